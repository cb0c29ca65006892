urlpatterns=[]
app_name="web"
