"""`entrepot worker`: the loop that takes jobs from the queue and runs their handlers."""
