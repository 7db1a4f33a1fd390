"""Documents: templates (templates.py), rendering (render.py), the internal store
(store.py) and the family's electronic file (family_file.py). See docs/documents.md."""
