; Lua: definitions, require.

(function_declaration name: (identifier) @name) @definition.function
(function_declaration
  name: (dot_index_expression table: (identifier) @parent field: (identifier) @name)) @definition.method
(function_declaration
  name: (method_index_expression table: (identifier) @parent method: (identifier) @name)) @definition.method

(chunk (assignment_statement
  (variable_list name: (identifier) @name)
  (expression_list value: (function_definition))) @definition.function)
(chunk (variable_declaration (assignment_statement
  (variable_list name: (identifier) @name)
  (expression_list value: (function_definition)))) @definition.function)

(chunk (assignment_statement
  (variable_list name: (identifier) @name)) @definition.constant
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))

(function_call
  name: (identifier) @_req
  arguments: (arguments . (string content: (string_content) @import.module))
  (#eq? @_req "require")) @import
