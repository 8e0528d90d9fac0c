from llmrouter.cli import main

main()
