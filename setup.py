from setuptools import setup

# Metadata and entry points live in setup.cfg; message extractors stay here because
# setup.cfg cannot express Babel's nested mapping.
setup(
    message_extractors={
        "ckanext": [
            ("**.py", "python", None),
            ("**.js", "javascript", None),
            ("**/templates/**.html", "ckan", None),
        ],
    },
)
