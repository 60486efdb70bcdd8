# hepmlp: event classification and calorimeter calibration with a from-scratch MLP.
#
#   snakemake --cores 4                       default config/config.yaml
#   snakemake --cores 2 --configfile config/ci.yaml
#   results/report.html                       the self-contained HTML report (rule report)
#
# The stages live in workflow/rules/*.smk; the work itself is done by the
# hepmlp package (src/hepmlp), which each rule calls through its CLI.

from snakemake.utils import min_version

min_version("9.0")

# A --configfile on the command line replaces the default config as a whole
# (rather than being merged into it key by key).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/scans.smk"
include: "workflow/rules/regress.smk"
include: "workflow/rules/plots.smk"


report: "workflow/report/workflow.rst"


rule all:
    input:
        all_outputs(),
        "results/report.html",
    default_target: True
