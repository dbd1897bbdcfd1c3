from aibench_plugins.cli import main

main()
