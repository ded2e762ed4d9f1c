"""``whistle report``: exact assessment figures from the closed loop (``issues.closed``).

- ``figures``: pure counting (``assess``), exact fractions;
- ``readers``: the events, from a JSONL export or from the broker;
- ``period``: the command line's dates;
- ``names``: Chinese names from a rules directory;
- ``text``, ``csvout``, ``html``: the terminal table, CSV and a self-contained HTML page.
"""
