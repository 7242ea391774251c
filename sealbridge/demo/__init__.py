"""`sealbridge demo`: the one-command demo (issue 9). See runner.py for the order of things."""
