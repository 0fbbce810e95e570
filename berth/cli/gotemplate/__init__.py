"""Go's text/template, as the docker CLI's `--format` runs it on berth's documents and rows.

lexer -> parser (nodes) -> execute (with functions and gofmt, Go's fmt). Berth's data are
JSON values: a dict whose keys are all Go field names stands for a Go struct (a missing
field is an error, it prints as `{...}`), any other dict is a Go map (a missing key is
`<no value>`, it prints as `map[k:v]`). No PyPI package fitted: the pure-Python one read
these templates well but took 0.45 s to import, and the others wrap a Go shared library.
Imported only when a template is rendered; stdlib only, and no module-level imports of
`re`, `json` or `typing` (the CLI's start-up pays for every import).
"""
