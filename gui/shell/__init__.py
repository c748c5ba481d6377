"""The application shell: the `motet` entry point, the QApplication and the main window."""
