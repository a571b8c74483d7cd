from snakemake.utils import min_version

min_version("9.0")


# The default study, unless a study config is given with --configfile: that one replaces it rather than
# being merged into it (Snakemake's configfile directive would merge, leaking keys such as source_study).
if not workflow.config_settings.configfiles:
    workflow.configfile("config/config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/model_report.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/refit.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
