"""Hugging Face Hub upload: the client (retries, clear errors), the upload plan, the model cards."""
