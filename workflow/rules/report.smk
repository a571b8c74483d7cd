rule report:
    input:
        # Every promised file: the report checks each before it renders, so that it vouches for all of them.
        study_files=study_files(),
        pick_refits=pick_refit_outputs,
        template=REPORT_TEMPLATE,
    output:
        html=in_report(
            study_path("results/report.html"), "report", "Recommendation", labels={"report": "mlpstudy report"}
        ),
    log:
        study_path("logs/report/report.log"),
    conda:
        ENVIRONMENT
    params:
        settings=params_json(config),
        results_dir=subpath(output.html, parent=True),
    shell:
        "python -m mlpstudy report --settings {params.settings:q} --results-dir {params.results_dir:q}"
        " --check {input.study_files} {input.pick_refits} --output {output.html} 2> {log}"
