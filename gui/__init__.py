"""Motet Qt front end."""
