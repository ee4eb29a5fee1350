; PHP: definitions, use / require.

(namespace_definition name: (namespace_name) @package)

(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.interface
(trait_declaration name: (name) @name) @definition.interface
(enum_declaration name: (name) @name) @definition.enum
(function_definition name: (name) @name) @definition.function
(method_declaration name: (name) @name) @definition.method
(const_declaration (const_element (name) @name)) @definition.constant

(namespace_use_declaration (namespace_use_clause [(qualified_name) (name)] @import.module)) @import
(namespace_use_declaration (namespace_name) @import.module
  body: (namespace_use_group (namespace_use_clause [(name) (qualified_name)] @import.name))) @import

(require_expression (string (string_content) @import.relmodule)) @import
(require_once_expression (string (string_content) @import.relmodule)) @import
(include_expression (string (string_content) @import.relmodule)) @import
(include_once_expression (string (string_content) @import.relmodule)) @import
(require_expression (binary_expression right: (string (string_content) @import.relmodule))) @import
(require_once_expression (binary_expression right: (string (string_content) @import.relmodule))) @import
(include_expression (binary_expression right: (string (string_content) @import.relmodule))) @import
(include_once_expression (binary_expression right: (string (string_content) @import.relmodule))) @import
