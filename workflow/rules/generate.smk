# Default data: Pythia 8 collision events and the calorimeter test beam.
# Each chunk is an independent job with its own seed, so chunks spread over
# cores or cluster nodes.


rule generate_events:
    input:
        code=package_code("generate"),
    output:
        "data/events/{process}_{chunk}.root",
    params:
        settings=settings("generate_events"),
    log:
        "logs/generate/events_{process}_{chunk}.log",
    benchmark:
        "benchmarks/results/generate_events_{process}_{chunk}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp generate events --settings {params.settings:q} --process {wildcards.process}"
        " --chunk {wildcards.chunk} --output {output} > {log} 2>&1"


rule generate_calorimeter:
    input:
        code=package_code("generate"),
    output:
        "data/calorimeter/{particle}_{chunk}.root",
    params:
        settings=settings("generate_calorimeter"),
    log:
        "logs/generate/calorimeter_{particle}_{chunk}.log",
    benchmark:
        "benchmarks/results/generate_calorimeter_{particle}_{chunk}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/hepmlp.yaml"
    shell:
        "hepmlp generate calorimeter --settings {params.settings:q} --chunk {wildcards.chunk}"
        " --output {output} > {log} 2>&1"
