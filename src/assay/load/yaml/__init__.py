"""The YAML scenario pipeline: a scenario file compiled once into iteration functions.

Modules, in the order a file flows through them:

- `template`: `{{ ... }}` templates and literal values (durations), compiled to closures
- `jsonpath`: JSON paths for captures and checks
- `data`: data file rows and weighted choices
- `checks`: captures and checks on a response or a WebSocket message
- `context`: located errors and the shape of a compiled step, shared by the step compilers
- `http_steps`, `ws_steps`: one compiler per step kind
- `compile`: the whole file (options, data, variables, flows) into a LoadedScenario

Import from the module that defines a name (`assay.load.yaml.compile.load_yaml_scenario`);
this package imports nothing on its own, so `assay.load.spec` can use `template`.
"""
