"""SLO gates: objectives with Keptn criteria, weighted scores, tiers and exit codes.

Public API (what `assay slo check` and plans use):

    from assay.slo.files import load_slo          # assay SLO YAML/JSON/TOML or OpenSLO v1
    from assay.slo.check import check             # SloCheck: verdicts + exit code
    from assay.slo.history import History, DirectoryHistory   # baselines for relative criteria
    from assay.slo.reports import console, markdown, junit, html, prometheus

    outcome = check(load_slo("slo.yaml"), [result], history=DirectoryHistory("baselines/"))
    sys.exit(outcome.exit_code)                  # 0 pass, 1 warning, 2 fail or critical
"""
