from crm_runtime.service import serve

from crm_customer.bootstrap import bootstrap


def main() -> None:
    serve(bootstrap())


if __name__ == "__main__":
    main()
