"""The SealBridge application: the `sealbridge` program that composes the agent, the central platform and the
demo (the layers themselves live in agent/, central/, stamping/, formats/)."""
