# Classification: one training job per model (kfold: per model and fold; scan
# points {scan}/{point} included), its evaluation, the comparison with the
# baselines and each scan's chosen point, the ONNX export and the per-event
# score trees.

MODEL_DIR = "results/classification/{model}"
# kfold: fold model f lives in results/classification/{model}/fold_{f}/
TRAINED_DIR = f"{MODEL_DIR}/fold_{{fold}}" if KFOLD else MODEL_DIR
TRAINED_NAME = "{model}_fold_{fold}" if KFOLD else "{model}"
# templates per sample and the pyhf workspace, where a class is the signal (HAS_SIGNAL, common.smk)
PHYSICS_OUTPUTS = (
    {"templates": f"{MODEL_DIR}/templates.root", "workspace": f"{MODEL_DIR}/workspace.json"} if HAS_SIGNAL else {}
)


rule train_classifier:
    input:
        dataset=rules.dataset.output,
        code=package_code("nn", "optim", "io", "transforms", "data/folds.py", "stages/classify.py"),
    output:
        model=f"{TRAINED_DIR}/model.npz",
        description=f"{TRAINED_DIR}/model.json",
        history=f"{TRAINED_DIR}/history.csv",
    params:
        settings=settings("train_classifier"),
        fold=lambda wildcards: f"--fold {wildcards.fold}" if KFOLD else "",
        dataset=lambda wildcards, input: folder(input.dataset),
        outdir=lambda wildcards, output: folder(output.model),
    log:
        f"logs/classification/train_{TRAINED_NAME}.log",
    benchmark:
        f"benchmarks/results/train_classifier_{TRAINED_NAME}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp train-classifier --settings {params.settings:q} --model {wildcards.model:q} {params.fold}"
        " --dataset {params.dataset:q} --outdir {params.outdir:q} --mem-mb {resources.mem_mb} > {log} 2>&1"


rule evaluate_classifier:
    input:
        model=trained_model,
        dataset=rules.dataset.output,
        code=package_code("evaluate", "io", "transforms", "data/folds.py", "stages/evaluate.py"),
    output:
        metrics=f"{MODEL_DIR}/metrics.json",
        table=f"{MODEL_DIR}/evaluation.parquet",
        **PHYSICS_OUTPUTS,
        plots=report(
            directory(f"{MODEL_DIR}/plots"),
            patterns=["{name}.png"],
            caption="../report/classifier.rst",
            category="Classification",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "{name}"},
        ),
    params:
        settings=settings("evaluate_classifier"),
        model_dir=lambda wildcards, output: folder(output.metrics),
        dataset=lambda wildcards, input: folder(input.dataset),
    log:
        "logs/classification/evaluate_{model}.log",
    benchmark:
        "benchmarks/results/evaluate_classifier_{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp evaluate-classifier --settings {params.settings:q} --model-dir {params.model_dir:q}"
        " --dataset {params.dataset:q} > {log} 2>&1"


rule compare_models:
    input:
        models=trained_models(MODELS),
        metrics=expand(rules.evaluate_classifier.output.metrics, model=MODELS),
        scan_points=trained_models(SCAN_POINTS),
        scans=expand("results/scans/{scan}/choice.json", scan=SCANS),
        dataset=rules.dataset.output,
        code=package_code("evaluate", "io", "transforms", "data/folds.py", "stages/evaluate.py"),
    output:
        table="results/classification/comparison/metrics.csv",
        markdown=report(
            "results/classification/comparison/metrics.md",
            caption="../report/comparison_table.rst",
            category="Classification",
            subcategory="Comparison",
            labels={"model": "all", "figure": "metrics table"},
        ),
        plots=report(
            directory("results/classification/comparison/plots"),
            patterns=["{name}.png"],
            caption="../report/comparison.rst",
            category="Classification",
            subcategory="Comparison",
            labels={"model": "all", "figure": "{name}"},
        ),
    params:
        settings=settings("compare_models"),
        model_dirs=lambda wildcards, input: model_folders(input.metrics),
        dataset=lambda wildcards, input: folder(input.dataset),
        outdir=lambda wildcards, output: folder(output.table),
        scans=lambda wildcards, input: f"--scans {' '.join(input.scans)}" if input.scans else "",
    log:
        "logs/classification/compare_models.log",
    benchmark:
        "benchmarks/results/compare_models.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp compare-models --settings {params.settings:q} --dataset {params.dataset:q}"
        " --models {params.model_dirs:q} {params.scans} --outdir {params.outdir:q} > {log} 2>&1"


rule export_onnx:
    input:
        model=trained_model,
        code=package_code("io", "transforms"),
    output:
        f"{MODEL_DIR}/model.onnx",
    params:
        model_dir=lambda wildcards, output: folder(output),
    log:
        "logs/classification/export_onnx_{model}.log",
    benchmark:
        "benchmarks/results/export_onnx_{model}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp export-onnx --model {params.model_dir:q} --output {output:q} > {log} 2>&1"


rule apply_scores:
    input:
        models=trained_models(MODELS),
        ntuples=lambda wildcards: sample_files(
            config["samples"][wildcards.sample]["files"], generated_event_files()
        ),
        code=package_code("io", "transforms", "data"),
    output:
        "results/scores/{sample}.root",
    params:
        settings=settings("apply_scores"),
        model_dirs=lambda wildcards, input: " ".join(f"--model {shlex.quote(d)}" for d in model_folders(input.models)),
        tree=lambda wildcards: config["samples"][wildcards.sample]["tree"],
        # a sample that took no part in training gets the mean of the k fold models
        folds=lambda wildcards: "" if config["samples"][wildcards.sample]["train"] else "--folds mean",
    log:
        "logs/scores/{sample}.log",
    benchmark:
        "benchmarks/results/apply_scores_{sample}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp apply {params.model_dirs} --input {input.ntuples:q} --tree {params.tree:q}"
        " --settings {params.settings:q} {params.folds} --output {output:q} > {log} 2>&1"
