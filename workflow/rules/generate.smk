# Default data: Pythia 8 collision events and the calorimeter test beam.
# Each chunk is an independent job with its own seed, so chunks spread over
# cores or cluster nodes.


rule generate_events:
    input:
        code=package_code("generate"),
    output:
        "data/events/{process}_{chunk}.root",
    params:
        settings=lambda wildcards: as_json(
            {
                "seed": config["generate"]["seed"],
                "process": EVENTS["processes"][wildcards.process],
                "events_per_chunk": EVENTS["events_per_chunk"],
                "energy_cm": EVENTS["energy_cm"],
                "detector": EVENTS["detector"],
            }
        ),
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
        "hepmlp generate events --config results/config.yaml --process {wildcards.process}"
        " --chunk {wildcards.chunk} --output {output} > {log} 2>&1"


rule generate_calorimeter:
    input:
        code=package_code("generate"),
    output:
        "data/calorimeter/{particle}_{chunk}.root",
    params:
        settings=lambda wildcards: as_json({"seed": config["generate"]["seed"], **CALORIMETER}),
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
        "hepmlp generate calorimeter --config results/config.yaml --chunk {wildcards.chunk}"
        " --output {output} > {log} 2>&1"
