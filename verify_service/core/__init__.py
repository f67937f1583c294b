"""Pure logic: tokens, templates, phone numbers, hashing, errors. Imports nothing of the
rest of the package, so it can be tested and reasoned about on its own."""
