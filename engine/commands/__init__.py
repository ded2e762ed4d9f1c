"""The ``whistle`` commands, one module each with ``add_arguments(parser)`` and ``run(args)``
(the registry is ``engine.cli``). Modules import only the standard library at the top: the
work is imported inside ``run``, so that ``whistle --help`` stays quick."""
