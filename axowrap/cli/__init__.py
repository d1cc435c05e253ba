"""The command line: main.py parses, dispatches and holds the one error handler; each command
lives in a module of its own here (output.py prints problems and run events)."""
