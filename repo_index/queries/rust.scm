; Rust: definitions, imports (use / mod).

(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(trait_item name: (type_identifier) @name) @definition.interface
(type_item name: (type_identifier) @name) @definition.type
(mod_item name: (identifier) @name body: (declaration_list)) @definition.module
(macro_definition name: (identifier) @name) @definition.macro

(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.method

(impl_item
  type: [(type_identifier) @parent
         (generic_type type: (type_identifier) @parent)
         (scoped_type_identifier name: (type_identifier) @parent)]
  body: (declaration_list (function_item name: (identifier) @name) @definition.method))

(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant

(use_declaration argument: (_) @import.module) @import
(mod_item name: (identifier) @import.relmodule !body) @import
