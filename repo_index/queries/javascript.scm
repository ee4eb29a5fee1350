; JavaScript (also JSX): definitions, imports.

(class_declaration name: (identifier) @name) @definition.class
(class name: (identifier) @name) @definition.class

(method_definition name: (property_identifier) @name) @definition.method

(function_declaration name: (identifier) @name) @definition.function
(generator_function_declaration name: (identifier) @name) @definition.function

(program (lexical_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @definition.function)
(export_statement (lexical_declaration
  (variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])) @definition.function)

(program (lexical_declaration
  (variable_declarator name: (identifier) @name value: [(number) (string) (template_string) (true) (false) (object) (array)])) @definition.constant
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))
(export_statement (lexical_declaration
  (variable_declarator name: (identifier) @name value: [(number) (string) (template_string) (true) (false) (object) (array)])) @definition.constant
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))

(import_statement
  (import_clause
    [(identifier) @import.name
     (named_imports (import_specifier name: (identifier) @import.name))
     (namespace_import)]*)?
  source: (string (string_fragment) @import.module)) @import

(export_statement source: (string (string_fragment) @import.module)) @import

(call_expression
  function: (identifier) @_require
  arguments: (arguments . (string (string_fragment) @import.module))
  (#eq? @_require "require")) @import

; Decorators and `export` belong to the definition they wrap.
(export_statement declaration: (_) @wrapped) @wrapper
