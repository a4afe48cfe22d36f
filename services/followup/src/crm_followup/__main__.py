from crm_followup.bootstrap import bootstrap
from crm_runtime.service import serve


def main() -> None:
    serve(bootstrap())


if __name__ == "__main__":
    main()
