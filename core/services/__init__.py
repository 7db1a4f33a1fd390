"""Services: the rules of the domain, applied inside one unit of work each."""
