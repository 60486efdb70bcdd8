# The lecture's optimizer figures, reproduced with hepmlp.optim.minimize.


rule plots:
    input:
        code=package_code("optim", "evaluate", "stages/evaluate.py"),
    output:
        steps="results/optimizers/steps.json",
        plots=report(
            directory("results/optimizers/plots"),
            patterns=["{name}.png"],
            caption="../report/optimizers.rst",
            category="Optimizers",
            labels={"figure": "{name}"},
        ),
    params:
        settings=as_json(config["plots"]),
    log:
        "logs/optimizers.log",
    benchmark:
        "benchmarks/results/optimizer_study.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp optimizer-study --config results/config.yaml --outdir results/optimizers > {log} 2>&1"
