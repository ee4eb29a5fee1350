; Python: definitions, references, imports.
; Captures: @definition.<kind> + @name (+ @doc, @parent), @reference.<kind> + @name,
; @import + @import.module / @import.name, @package.

(class_definition
  name: (identifier) @name
  body: (block . (string)? @doc)) @definition.class

(function_definition
  name: (identifier) @name
  body: (block . (string)? @doc)) @definition.function

(module
  (assignment left: (identifier) @name) @definition.constant
  (#match? @name "^_*[A-Z][A-Z0-9_]*$"))

(module
  (type_alias_statement left: (type (identifier) @name)) @definition.type)

(class_definition
  superclasses: (argument_list [(identifier) @name (attribute attribute: (identifier) @name)]) @reference.class)

(call
  function: [(identifier) @name (attribute attribute: (identifier) @name)]) @reference.call

(import_statement
  name: [(dotted_name) @import.module (aliased_import name: (dotted_name) @import.module)]) @import

(import_from_statement
  module_name: [(dotted_name) (relative_import)] @import.module
  name: [(dotted_name) @import.name (aliased_import name: (dotted_name) @import.name)]?) @import
