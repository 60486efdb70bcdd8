# Hyperparameter scans (classification.scans): every point {scan}/{point} is
# trained by rule train_classifier like any model; here each point's
# validation record, then per scan the table, the choice (lowest validation
# loss) and the figures. The chosen point joins compare_models.

POINT_DIR = "results/classification/{scan}/{point}"
SCAN_DIR = "results/scans/{scan}"


rule evaluate_scan_point:
    input:
        model=lambda wildcards: trained_files(f"{wildcards.scan}/{wildcards.point}"),  # kfold: its k fold models
        dataset=rules.dataset.output,
        code=package_code("evaluate", "io", "transforms", "data/folds.py", "scans.py", "stages/scan.py"),
    output:
        f"{POINT_DIR}/point.json",
    params:
        settings=settings("evaluate_scan_point"),
        model_dir=lambda wildcards, output: folder(output),
        dataset=lambda wildcards, input: folder(input.dataset),
    log:
        "logs/scans/{scan}/evaluate_{point}.log",
    benchmark:
        "benchmarks/results/scans/{scan}/evaluate_{point}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp evaluate-scan-point --settings {params.settings:q} --model {wildcards.scan:q}/{wildcards.point:q}"
        " --model-dir {params.model_dir:q} --dataset {params.dataset:q} > {log} 2>&1"


rule summarise_scan:
    input:
        points=lambda wildcards: expand(f"{POINT_DIR}/point.json", scan=wildcards.scan, point=SCANS[wildcards.scan]),
        code=package_code("evaluate", "scans.py", "stages/scan.py"),
    output:
        table=f"{SCAN_DIR}/scan.csv",
        markdown=report(
            f"{SCAN_DIR}/scan.md",
            caption="../report/scan_table.rst",
            category="Scans",
            subcategory="{scan}",
            labels={"scan": "{scan}", "figure": "scan table"},
        ),
        choice=f"{SCAN_DIR}/choice.json",
        plots=report(
            directory(f"{SCAN_DIR}/plots"),
            patterns=["{name}.png"],
            caption="../report/scans.rst",
            category="Scans",
            subcategory="{scan}",
            labels={"scan": "{scan}", "figure": "{name}"},
        ),
    params:
        settings=settings("summarise_scan"),
        outdir=lambda wildcards, output: folder(output.table),
    log:
        "logs/scans/{scan}/summarise.log",
    benchmark:
        "benchmarks/results/scans/{scan}/summarise.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp summarise-scan --settings {params.settings:q} --scan {wildcards.scan:q} --points {input.points:q}"
        " --outdir {params.outdir:q} > {log} 2>&1"
