from spam_trainer.cli import main

main()
