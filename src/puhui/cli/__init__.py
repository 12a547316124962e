"""The ``puhui`` command line: thin entry points over the service layer."""
