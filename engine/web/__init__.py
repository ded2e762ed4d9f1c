"""Who holds what, on the workers' web port: the ``/api/issues`` JSON API and the operator
page at ``/`` (README, "Who holds what"; docs/contract.md, "HTTP API").

- ``models``: the API's response models (pydantic; ``schemas/openapi.yaml`` is generated from
  them by ``openapi``);
- ``issues``: an issue state as the API shows it, the query's filters, its order and cursor,
  and one worker's answer from its own partitions (pure, no I/O);
- ``gather``: every worker answers for every issue, by asking every worker of the consumer
  group for its partitions (scatter-gather) and checking the answers cover every partition;
- ``feed``: the closed and lifecycle topics read by each worker for the page (report rates
  today and this month, recent events);
- ``page``: the operator page's HTML (server-rendered, escaped) and its small script;
- ``routes``: the faust views, wired by ``engine.agents.app`` with one call.
"""
