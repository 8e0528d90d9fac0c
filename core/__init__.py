"""The ground floor: the error tree, logging and resource lookup; imports nothing of ours."""
