# Calorimeter calibration: MLP regression of the pion energy, compared with
# the raw EM-scale sum, a linear per-layer calibration and scikit-learn.

REGRESSION_DIR = "results/regression/{model}"


rule train_regressor:
    input:
        dataset=rules.regression_dataset.output,
        code=package_code("nn", "optim", "io", "transforms", "evaluate/calibration.py", "stages/regress.py"),
    output:
        model=f"{REGRESSION_DIR}/model.npz",
        description=f"{REGRESSION_DIR}/model.json",
        history=f"{REGRESSION_DIR}/history.csv",
    params:
        settings=settings("train_regressor"),
        dataset=lambda wildcards, input: folder(input.dataset),
        outdir=lambda wildcards, output: folder(output.model),
    log:
        "logs/regression/train_{model}.log",
    benchmark:
        "benchmarks/results/train_regressor_{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp train-regressor --settings {params.settings:q} --model {wildcards.model:q}"
        " --dataset {params.dataset:q} --outdir {params.outdir:q}"
        " --mem-mb {resources.mem_mb} > {log} 2>&1"


rule evaluate_regressor:
    input:
        model=rules.train_regressor.output,
        dataset=rules.regression_dataset.output,
        code=package_code("evaluate", "stages/regress.py"),
    output:
        metrics=f"{REGRESSION_DIR}/metrics.json",
        bins=f"{REGRESSION_DIR}/response_bins.csv",
        plots=report(
            directory(f"{REGRESSION_DIR}/plots"),
            patterns=["{name}.png"],
            caption="../report/regression.rst",
            category="Regression",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "{name}"},
        ),
    params:
        settings=settings("evaluate_regressor"),
        model_dir=lambda wildcards, input: folder(input.model),
        dataset=lambda wildcards, input: folder(input.dataset),
    log:
        "logs/regression/evaluate_{model}.log",
    benchmark:
        "benchmarks/results/evaluate_regressor_{model}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp evaluate-regressor --settings {params.settings:q}"
        " --model-dir {params.model_dir:q} --dataset {params.dataset:q} > {log} 2>&1"
