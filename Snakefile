import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from mlpstudy.config import ConfigError, read_yaml

min_version("9.0")


# Read first, so that a YAML syntax error names its line and column (Snakemake's own message does not).
if os.path.exists("config/config.yaml"):
    try:
        read_yaml("config/config.yaml")
    except ConfigError as error:
        raise WorkflowError(f"Invalid configuration: {error}") from None


# The default study. A study config given with --configfile replaces it (common.smk, study_config).
configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/model_report.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/refit.smk"
include: "workflow/rules/deploy.smk"
include: "workflow/rules/report.smk"


onerror:
    say_report_is_stale()


rule all:
    default_target: True
    input:
        planned_files(),
        run_files_of_study,
        pick_refit_outputs,
        rules.report.output,
