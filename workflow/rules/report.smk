rule report:
    input:
        **(
            {"refits": rules.summarize_refits.output.refits, "deployed": rules.summarize_refits.output.deployed}
            if config["refit"]
            else {}
        ),
        template=REPORT_TEMPLATE,
        summary=rules.prepare_data.output.summary,
        selection=rules.decide.output.selection,
        runs=rules.decide.output.runs,
        rounds=rules.decide.output.rounds,
        comparison=rules.evidence.output.comparison,
        versus_pick=rules.evidence.output.versus_pick,
        probability_best=rules.evidence.output.probability_best,
        facts=rules.evidence.output.facts,
        refit_benchmarks=refit_benchmarks,
        card=rules.model_card.output.card,
        robustness=rules.robustness.output.table,
        robustness_figure=rules.robustness.output.figure,
        examples_figure=rules.robustness.output.examples_figure,
        # Every promised file: the report checks each before it renders, so that it vouches for all of them.
        check=lambda wildcards: study_files() + pick_refit_outputs(wildcards),
    output:
        html=in_report(
            study_path("results/report.html"), "report", "Recommendation", labels={"report": "mlpstudy report"}
        ),
    log:
        study_path("logs/report/report.log"),
    conda:
        ENVIRONMENT
    params:
        settings=step_settings(
            settings=config,
            comparison_figures={key: comparison_figure(key) for key in COMPARISON_FIGURES},
            # Lists of (title, file) pairs, in the order the page shows them (params are JSON with sorted keys).
            data_figures=[[title, data_figure(key)] for key, title in DATA_FIGURES.items()],
            model_figures={
                experiment: [[title, model_figure(key, experiment)] for key, title in MODEL_FIGURES.items()]
                for experiment in EXPERIMENTS
            },
            model_reports={
                experiment: expand(rules.model_report.output.html, experiment=experiment)[0]
                for experiment in EXPERIMENTS
            },
            benchmarks=lambda wildcards: stage_benchmarks(),
        ),
        files=step_files(),
    shell:
        "python -m mlpstudy report {params.settings:q} {params.files:q} 2> {log}"
