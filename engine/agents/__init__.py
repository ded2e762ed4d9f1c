"""The streaming shell: Faust app, topics, tables and agents around the pure core."""
