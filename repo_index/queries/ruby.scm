; Ruby: definitions, require / require_relative.

(class name: [(constant) (scope_resolution)] @name) @definition.class
(module name: [(constant) (scope_resolution)] @name) @definition.module
(method name: (_) @name) @definition.method
(singleton_method name: (_) @name) @definition.method

(program (assignment left: (constant) @name) @definition.constant)
(body_statement (assignment left: (constant) @name) @definition.constant)

(call
  method: (identifier) @_req
  arguments: (argument_list . (string (string_content) @import.module))
  (#any-of? @_req "require" "load")) @import

(call
  method: (identifier) @_req
  arguments: (argument_list . (string (string_content) @import.relmodule))
  (#eq? @_req "require_relative")) @import
