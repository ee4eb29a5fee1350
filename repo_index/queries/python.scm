; Python: definitions, imports.
; Captures: @definition.<kind> + @name (+ @doc docstring, @parent container name),
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

(import_statement
  name: [(dotted_name) @import.module (aliased_import name: (dotted_name) @import.module)]) @import

(import_from_statement
  module_name: [(dotted_name) (relative_import)] @import.module
  name: [(dotted_name) @import.name (aliased_import name: (dotted_name) @import.name)]?) @import

; Decorators and `export` belong to the definition they wrap.
(decorated_definition definition: (_) @wrapped) @wrapper
