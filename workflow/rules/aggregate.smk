# A round of an adaptive seed policy, a checkpoint: which experiments get the next round's seeds depends on it.
checkpoint plan_round:
    input:
        unpack(round_inputs),
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
    output:
        plan=study_path("results/comparison/rounds/round{round}.json"),
    log:
        study_path("logs/plan_round/round{round}.log"),
    benchmark:
        study_path("results/benchmarks/plan_round/round{round}.tsv")
    priority: BEFORE_ANY_RUN
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(
            settings={key: config[key] for key in ("experiments", "defaults", "selection", "seed_policy")},
            number=lambda wildcards: int(wildcards.round),
        ),
        files=step_files(),
    shell:
        "python -m mlpstudy plan-round {params.settings:q} {params.files:q} 2> {log}"


# The choice, a checkpoint: which experiment is refit depends on it. It reads metrics and validation predictions
# only, so the refit runs never wait for the evidence below.
checkpoint decide:
    input:
        metrics=all_run_files("metrics"),
        predictions=all_run_files("predictions"),
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
        plans=round_plans,
    output:
        runs=comparison_output(study_path("results/comparison/runs.csv"), "runs"),
        selection=comparison_output(study_path("results/comparison/selection.json"), "selection"),
        rounds=comparison_output(study_path("results/comparison/rounds.json"), "rounds"),
    log:
        study_path("logs/decide/decide.log"),
    benchmark:
        study_path("results/benchmarks/decide.tsv")
    priority: BEFORE_ANY_RUN
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(
            settings={key: config[key] for key in ("experiments", "defaults", "selection", "seed_policy")}
        ),
        files=step_files(),
    shell:
        "python -m mlpstudy decide {params.settings:q} {params.files:q} 2> {log}"


# The evidence behind the choice: the comparison table, tests, bootstrap and figures.
rule evidence:
    input:
        metrics=all_run_files("metrics"),
        histories=all_run_files("history"),
        predictions=all_run_files("predictions"),
        dataset=rules.prepare_data.output.dataset,
        summary=rules.prepare_data.output.summary,
        selection=rules.decide.output.selection,
    output:
        **{f"{key}_figure": comparison_output(comparison_figure(key), key) for key in COMPARISON_FIGURES},
        comparison=in_report(study_path("results/comparison.csv"), "comparison/comparison", "Comparison"),
        versus_pick=comparison_output(study_path("results/comparison/versus_pick.csv"), "versus_pick"),
        probability_best=comparison_output(study_path("results/comparison/probability_best.csv"), "probability_best"),
        facts=comparison_output(study_path("results/comparison/facts.json"), "facts"),
    log:
        study_path("logs/evidence/evidence.log"),
    benchmark:
        study_path("results/benchmarks/evidence.tsv")
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(
            settings={
                **{
                    key: config[key]
                    for key in ("experiments", "defaults", "selection", "deploy", "equivalence_margin")
                },
                "deploy_seed": FIRST_SEEDS[0],
            }
        ),
        files=step_files(),
    shell:
        "python -m mlpstudy evidence {params.settings:q} {params.files:q} 2> {log}"
