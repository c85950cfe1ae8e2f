"""AWS Lambda adapters: the same worker and jobsender code as the CLI, configured from the environment.

- ``s3migrate.lambdas.worker.handler``: an SQS-triggered worker (partial batch failures; stops taking new
  parts before the Lambda timeout and lets the message come back, so large objects move over several runs).
- ``s3migrate.lambdas.jobsender.handler``: the scheduled jobsender (pairs, ignore list, credentials from SSM).
"""
