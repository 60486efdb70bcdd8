# Figures that do not belong to one model: the lecture's optimizer study,
# reproduced with hepmlp.optim, and the input features; and the HTML report
# of everything.


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
        settings=settings("plots"),
        study=optimizer_study_numbers,
        outdir=lambda wildcards, output: folder(output.steps),
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
        "hepmlp optimizer-study --settings {params.settings:q} --outdir {params.outdir:q} > {log} 2>&1"


rule plot_inputs:
    input:
        dataset=rules.dataset.output,
        code=package_code("evaluate", "stages/evaluate.py"),
    output:
        plots=report(
            directory("results/inputs/plots"),
            patterns=["{name}.png"],
            caption="../report/inputs.rst",
            category="Inputs",
            labels={"figure": "{name}"},
        ),
    params:
        settings=settings("plot_inputs"),
        dataset=lambda wildcards, input: folder(input.dataset),
        outdir=lambda wildcards, output: folder(output.plots),
    log:
        "logs/plot_inputs.log",
    benchmark:
        "benchmarks/results/plot_inputs.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp plot-inputs --settings {params.settings:q} --dataset {params.dataset:q}"
        " --outdir {params.outdir:q} > {log} 2>&1"


rule plot_transformed_inputs:
    input:
        dataset=rules.dataset.output,
        model=trained_model,  # kfold: the figures show fold model 0
        code=package_code("evaluate", "io", "transforms", "data/folds.py", "stages/evaluate.py"),
    output:
        plots=report(
            directory("results/inputs/{model}/plots"),
            patterns=["{name}.png"],
            caption="../report/inputs.rst",
            category="Inputs",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "{name}"},
        ),
    params:
        settings=settings("plot_transformed_inputs"),
        dataset=lambda wildcards, input: folder(input.dataset),
        model_dir=lambda wildcards, input: model_folders(input.model)[0],
        outdir=lambda wildcards, output: folder(output.plots),
    log:
        "logs/plot_transformed_inputs_{model}.log",
    benchmark:
        "benchmarks/results/plot_transformed_inputs_{model}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp plot-inputs --settings {params.settings:q} --dataset {params.dataset:q}"
        " --model {params.model_dir:q} --outdir {params.outdir:q} > {log} 2>&1"


# The report is Snakemake's own (`snakemake --report`); this rule runs it once
# everything else is done. --nolock: the outer run holds the working-folder lock.
rule report:
    input:
        all_outputs(),
    output:
        "results/report.html",
    params:
        snakefile=workflow.main_snakefile,
        # the same config files as this run: the captions read the validated config
        configfiles=" ".join(shlex.quote(str(path)) for path in workflow.configfiles),
        stylesheet=Path(workflow.basedir) / "workflow" / "report" / "report.css",
    log:
        "logs/report.log",
    localrule: True
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "snakemake --snakefile {params.snakefile} --configfile {params.configfiles} --nolock"
        " --report {output} --report-stylesheet {params.stylesheet} > {log} 2>&1"
