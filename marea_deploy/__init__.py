"""`make deploy` / `marea deploy`: Marea's stacks, the stage's environment and its Lambdas, in one command."""
