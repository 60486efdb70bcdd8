# ROOT ntuples -> train/validation/test parquet files with labels and weights
# (split.method kfold: one events.parquet, every event with its fold).

SPLIT_FILES = ["train.parquet", "validation.parquet", "test.parquet"]
DATASET_FILES = ["events.parquet"] if KFOLD else SPLIT_FILES


rule dataset:
    input:
        ntuples=classification_inputs(),
        code=package_code("data"),
    output:
        events=expand("results/dataset/{name}", name=DATASET_FILES),
        info="results/dataset/dataset.json",
    params:
        settings=settings("dataset"),
        outdir=lambda wildcards, output: folder(output.info),
    log:
        "logs/dataset/classification.log",
    benchmark:
        "benchmarks/results/dataset.tsv"
    threads: 2  # uproot and the expressions run on a pool of this many threads
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp dataset --settings {params.settings:q} --task classification"
        " --outdir {params.outdir:q} > {log} 2>&1"


rule regression_dataset:
    input:
        ntuples=regression_inputs(),
        code=package_code("data"),
    output:
        events=expand("results/regression/dataset/{name}", name=SPLIT_FILES),  # the regression keeps its split
        info="results/regression/dataset/dataset.json",
    params:
        settings=settings("regression_dataset"),
        outdir=lambda wildcards, output: folder(output.info),
    log:
        "logs/dataset/regression.log",
    benchmark:
        "benchmarks/results/regression_dataset.tsv"
    threads: 2  # uproot and the expressions run on a pool of this many threads
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp dataset --settings {params.settings:q} --task regression"
        " --outdir {params.outdir:q} > {log} 2>&1"
