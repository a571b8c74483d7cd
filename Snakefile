from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from mlpstudy.config import ConfigError, read_yaml

min_version("9.0")


# The default study, unless a study config is given with --configfile: that one replaces it rather than
# being merged into it (Snakemake's configfile directive would merge, leaking keys such as source_study).
# Read here first, so that a YAML syntax error names the line and column.
if not workflow.config_settings.configfiles:
    try:
        read_yaml("config/config.yaml")
    except ConfigError as error:
        raise WorkflowError(f"Invalid configuration: {error}") from None
    workflow.configfile("config/config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/model_report.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/refit.smk"
include: "workflow/rules/report.smk"


onerror:
    say_report_is_stale()


rule all:
    default_target: True
    input:
        study_files(),
        pick_refit_outputs,
        rules.report.output,
