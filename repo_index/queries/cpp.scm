; C++: definitions, includes.

(function_definition
  declarator: [(function_declarator declarator: [(identifier) (field_identifier) (operator_name) (destructor_name)] @name)
               (function_declarator declarator: (qualified_identifier scope: (namespace_identifier) @parent name: [(identifier) (destructor_name) (operator_name)] @name))
               (pointer_declarator declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name))
               (reference_declarator (function_declarator declarator: [(identifier) (field_identifier)] @name))]) @definition.function

(field_declaration_list
  (declaration declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name)) @definition.method)
(field_declaration_list
  (field_declaration declarator: (function_declarator declarator: [(identifier) (field_identifier)] @name)) @definition.method)

(class_specifier name: [(type_identifier) (template_type)] @name body: (field_declaration_list)) @definition.class
(struct_specifier name: [(type_identifier) (template_type)] @name body: (field_declaration_list)) @definition.struct
(union_specifier name: (type_identifier) @name body: (field_declaration_list)) @definition.struct
(enum_specifier name: (type_identifier) @name body: (enumerator_list)) @definition.enum
(type_definition declarator: (type_identifier) @name) @definition.type
(alias_declaration name: (type_identifier) @name) @definition.type
(namespace_definition name: (namespace_identifier) @name) @definition.module
(concept_definition name: (identifier) @name) @definition.type

(preproc_def name: (identifier) @name) @definition.constant
(preproc_function_def name: (identifier) @name) @definition.macro

(translation_unit (declaration (type_qualifier) declarator: (init_declarator declarator: (identifier) @name)) @definition.constant)
(namespace_definition body: (declaration_list (declaration (type_qualifier) declarator: (init_declarator declarator: (identifier) @name)) @definition.constant))

(preproc_include path: (string_literal (string_content) @import.module)) @import
(preproc_include path: (system_lib_string) @import.module) @import
