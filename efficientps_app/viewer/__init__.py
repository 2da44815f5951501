"""The PySide6 viewer. Qt is imported only inside this package; ``efficientps view`` imports it lazily."""
