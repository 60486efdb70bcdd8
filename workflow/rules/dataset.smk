# ROOT ntuples -> train/validation/test parquet files with labels and weights
# (split.method kfold: one events.parquet, every event with its fold).

SPLIT_FILES = ["train.parquet", "validation.parquet", "test.parquet", "dataset.json"]
DATASET_FILES = ["events.parquet", "dataset.json"] if KFOLD else SPLIT_FILES


rule dataset:
    input:
        ntuples=classification_inputs(),
        code=package_code("data"),
    output:
        expand("results/dataset/{name}", name=DATASET_FILES),
    params:
        settings=as_json(
            {
                key: config.get(key)
                for key in ("samples", "selection", "features", "weights", "split", "reading")
            }
            | {"luminosity": config["classification"]["luminosity"]}
        ),
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
        "hepmlp dataset --config results/config.yaml --task classification"
        " --outdir results/dataset > {log} 2>&1"


rule regression_dataset:
    input:
        ntuples=regression_inputs(),
        code=package_code("data"),
    output:
        expand("results/regression/dataset/{name}", name=SPLIT_FILES),  # the regression keeps its split
    params:
        settings=as_json(
            {"regression": {k: v for k, v in config.get("regression", {}).items() if k != "models"}}
            | {key: config.get(key) for key in ("split", "reading")}
        ),
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
        "hepmlp dataset --config results/config.yaml --task regression"
        " --outdir results/regression/dataset > {log} 2>&1"
