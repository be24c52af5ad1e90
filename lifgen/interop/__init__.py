"""Exchange with other tools: NIR graphs in (nir_import) and out (nir_export), NIR's nodes as
lifgen models (nir_models)."""
