"""Static files of the demo portal (package data: index.html, oa.html, *.js, style.css)."""
